"""Segments: audiences as rule trees compiled to SQL, with stored membership."""
