"""The web console: runtime settings for it and serving its built files at `/`."""
