"""The only code that touches WeasyPrint and pdfium."""
