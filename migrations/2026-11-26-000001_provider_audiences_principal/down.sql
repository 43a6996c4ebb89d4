-- Back to one audience: a provider with several keeps the first one only
-- (its tokens for the others are then refused), and every provider takes
-- its principal from `sub` again.
ALTER TABLE jwt_providers ADD COLUMN audience text;
UPDATE jwt_providers SET audience = audiences[1];
ALTER TABLE jwt_providers DROP COLUMN audiences, DROP COLUMN principal_claim;
