"""`make bench`: how well investcrawl does its job, against reference points, in one run."""
