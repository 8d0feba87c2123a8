"""The live view and what it shows beyond one frame: the HTTP server and its page (``server``, ``static/``),
the per-face timelines and the session's shares (``session``) and the ``--summary`` image (``summary_image``)."""
