# gunicorn's own settings, rendered by umbra per replica: {port} is the
# replica's port. Python's format braces would be placeholders, so this
# file uses none of its own.
bind = "127.0.0.1:{port}"
workers = 2
accesslog = None
errorlog = "-"
graceful_timeout = 10
