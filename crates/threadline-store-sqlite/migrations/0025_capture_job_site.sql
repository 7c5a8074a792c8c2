-- The site of the account that sent an EPCIS capture document (NULL: an account bound to no
-- site). An account bound to a site reads the jobs it or its site sent, and no others.
ALTER TABLE epcis_capture_jobs ADD COLUMN site TEXT;
