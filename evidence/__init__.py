"""Camera evidence: privacy (who sees what), image blurring, bundles and their verification.

- `privacy`: which roles see faces and plates, plate masking and matching (pure);
- `blur`: the blurred copy of a snapshot shown to everyone else (Pillow);
- `signing`: the deployment's Ed25519 key pair (signs bundles and export records);
- `bundle`: a ZIP of snapshots + manifest (per-file SHA-256, manifest hash, Ed25519 signature);
- `verify`: checks a bundle and says what changed (used by `ioc evidence verify`);
- `store`: the incident, its snapshots, reviews, notes and custody log in the database;
- `export`: builds a bundle for one incident and records the export (custody + audit);
- `cli`: `ioc evidence verify BUNDLE`.
"""
