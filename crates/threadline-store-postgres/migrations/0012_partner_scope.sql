-- Partner scoping (issue 6): a user or API token bound to a party (a distributor) sees only
-- what was shipped to that party or to the parties under it.
ALTER TABLE users ADD COLUMN party TEXT;
ALTER TABLE api_tokens ADD COLUMN party TEXT;
