"""Content: the materials library, poster templates, tracked links and share chains."""
