"""Where video sessions come from: synthetic rough-to-fine cuts, saved project versions, editor logs."""
