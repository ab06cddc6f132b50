"""Stage 2, lint: semantic rules over a spec (every finding, none stops the others), the rules over every
untrusted string, and the partial run that still checks the valid parts of a spec with schema errors."""
