"""SP404: API keys and passwords of common formats written into the source."""

OPENAI_KEY = "sk-proj-Abcdefghijklmnopqrstuvwx0123456789"  # expect: SP404
GITHUB_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"  # expect: SP404
RENDER_API_KEY = "rnd_AbCdEfGhIjKlMnOpQrStUvWx"  # expect: SP404
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # expect: SP404
DATABASE_URL = "postgresql://bot:s3cr3t-Passw0rd@db.example.com:5432/bot"  # expect: SP404
REDIS_URL = "redis://:S3cretRedisPass@redis.example.com:6379/0"  # expect: SP404

# Not secrets: placeholders, environment lookups, prose.
TEMPLATE = "postgresql://user:password@localhost/bot"
FROM_ENV = "postgresql://bot:${DB_PASSWORD}@db/bot"
PROSE = "ask-me-anything"
