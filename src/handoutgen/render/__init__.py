"""From a request to HTML and a full PDF: context, marks, composition, stand-ins."""
