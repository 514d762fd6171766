"""The notebook side: `%ansflow` magics, `run_pipeline` handles, the widget, and who runs
the pipeline (the server extension over REST, or the kernel itself in embedded mode)."""
