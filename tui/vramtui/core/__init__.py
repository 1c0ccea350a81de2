"""The pure core: header reading, model facts, memory estimate, fit, speed. No textual here."""
