"""Email over SMTP: a pooled async sender, a connection check and a demo mail sink.

`SmtpSender` (sender.py) sends `Email`s (config.py) built into MIME by message.py and
answers every one with a `SendOutcome`; `check` (check.py) is the settings page's "test
connection"; `MailSink` (sink.py) is the mailbox `siyu demo` sends to.
"""
