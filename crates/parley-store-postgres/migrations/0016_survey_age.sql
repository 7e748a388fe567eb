-- Retention finds the survey answers whose comments are due to go without scanning every event.
CREATE INDEX event_survey_age ON event (workspace_id, at) WHERE kind = 'survey.answered' AND redacted_at IS NULL;
