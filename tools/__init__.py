"""Developer tools: evaluation reports, the tests' contract, rule formatting, test set-up."""
