-- JWT providers as identity providers run them (issue 12):
-- - several accepted audiences per provider: a token is accepted when its
--   `aud` (a string or an array) holds at least one of them; none configured
--   means `aud` is not checked. The old single `audience` moves in as the
--   only element.
-- - the claim that names the sender (`authprincipal`, and with the provider
--   the Idempotency-Key scope): `sub` unless configured, e.g. `client_id` or
--   `azp` for machine tokens from the client credentials grant, which carry
--   no `sub` at some providers.
ALTER TABLE jwt_providers
    ADD COLUMN audiences text[] NOT NULL DEFAULT '{}',
    ADD COLUMN principal_claim text NOT NULL DEFAULT 'sub'
        CHECK (principal_claim ~ '^[!-~]{1,128}$');
UPDATE jwt_providers SET audiences = ARRAY[audience] WHERE audience IS NOT NULL;
ALTER TABLE jwt_providers DROP COLUMN audience;
