"""Signals of our own.

failure_recorded(url, kind, detail, attempts, source): a fetched or attempted URL did not
become an article. The archive pipeline stores it in `failures`. source: why it was asked
for ("listing", "link", "probe", "retry"; None for a listing page or a gap).

failure_cleared(url): a page that is not an article (a listing, the section index) was
read whole; a failure recorded for it before is cleared. (An article's is cleared when it
is stored.)

template_line_learned(learned): a line was learned as template (boilerplate.Learned); the
archive pipeline records it and takes it out of the articles stored before holding it,
keeping a revision of each.

reading_doubted(url, doubt, source): an article page read, and stored, whose reading may be
wrong (extract.ArticleExtraction.doubt: why); the reading judge counts it.

image_recorded(url, kind, fields): what became of an image an article shows (images.py);
the archive pipeline stores it in `images` (kind: failures.IMAGE_KINDS; fields: its columns).

listing_walked(page): a walk has read a listing page (walk.py); the archive pipeline stores
it in `walk_pages` (page: its columns).
"""

failure_recorded = object()
failure_cleared = object()
template_line_learned = object()
reading_doubted = object()
image_recorded = object()
listing_walked = object()
