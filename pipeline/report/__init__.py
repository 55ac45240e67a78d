"""The run report: one self-contained HTML page per run under <pipeline root>/report/."""
