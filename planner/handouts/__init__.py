"""Printable handouts: the pages, the PDF render, batch uploads, practice branding."""
