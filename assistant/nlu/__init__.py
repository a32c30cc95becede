"""Natural-language understanding with Rasa: training, fast loading, a resident parse server."""
