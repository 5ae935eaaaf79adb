"""Domain services: rules of the mentoring programs. They take `now` and ids, return results, never call Slack."""
