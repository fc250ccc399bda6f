"""The web console: campaigns, phones and replies in a browser, drawn on the server."""
