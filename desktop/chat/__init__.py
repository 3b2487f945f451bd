"""The Chat page: conversation list, streaming Markdown replies, composer, and the session
that ties them to a model host and the history database."""
