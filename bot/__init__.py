"""Shelfmate: peer-mentoring programs for library staff, run inside Slack."""
