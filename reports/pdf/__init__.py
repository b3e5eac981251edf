"""The report as a document: content snapshot and hash, WeasyPrint rendering with a
locked-down URL fetcher, SVG charts, and pypdf stamping of personal copies."""
