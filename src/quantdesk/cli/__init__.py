"""Ring 3: the ``quantdesk`` command line. Parses, calls one service, renders."""
