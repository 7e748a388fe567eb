-- What a channel gives beyond a message's text: an email's subject, Message-ID and sanitised HTML.
ALTER TABLE message ADD COLUMN meta TEXT;
