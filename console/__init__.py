"""The console: the web pages where a team runs campaigns and answers replies.

Served by our own process (``outreach console``, also started by ``outreach serve``),
bound to loopback unless told otherwise. Every page needs a signed-in user; viewers
read, operators act. Pages are rendered on the server from the same query layer as
the CLI (:mod:`engine.reports`, :mod:`engine.snapshot`, :mod:`engine.timeline`, ...);
charts are SVG made here (:mod:`console.charts`).
"""
