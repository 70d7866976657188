"""Signals of our own.

failure_recorded(url, kind, detail, attempts, source): a fetched or attempted URL did not
become an article. The archive pipeline stores it in `failures`. source: why it was asked
for ("listing", "link", "probe", "retry"; None for a listing page or a gap).

failure_cleared(url): a page that is not an article (a listing, the section index) was
read whole; a failure recorded for it before is cleared. (An article's is cleared when it
is stored.)

template_line_learned(line, article_ids): a line was learned as template (boilerplate.py);
the archive pipeline records it and removes it from those articles, stored before.

image_recorded(url, kind, fields): what became of an image an article shows (images.py);
the archive pipeline stores it in `images` (kind: archive.IMAGE_KINDS; fields: its columns).
"""

failure_recorded = object()
failure_cleared = object()
template_line_learned = object()
image_recorded = object()
