-- Until now the default Admin role of a community was created with every
-- bit set (u64::MAX, stored as -1), so its JSON carried a number beyond
-- 2^53 and PATCHing its permissions always failed on "unknown permission
-- bits". Keep only the defined bits (13 of them: 0x1FFF = 8191) in roles
-- and channel overrides. The store also drops undefined bits on read.
UPDATE roles SET permissions = permissions & 8191 WHERE permissions <> (permissions & 8191);
UPDATE channel_overrides SET allow_bits = allow_bits & 8191, deny_bits = deny_bits & 8191
    WHERE allow_bits <> (allow_bits & 8191) OR deny_bits <> (deny_bits & 8191);
