"""NEP's video domain: the next timeline edit (trim, split, ripple delete...) on OpenTimelineIO timelines."""
