"""Where code sessions come from: git history (``git``), synthetic LintSeq sequences (``lintseq``), editor logs (``editor``)."""
