"""The weekly email: subscribe pages, subscriber and send SQL, composing, runs, SMTP, backup."""
