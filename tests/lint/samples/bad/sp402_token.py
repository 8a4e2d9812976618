"""SP402: bot tokens written into the source, alone or inside a URL."""

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawX"  # expect: SP402
URL = "https://api.telegram.org/bot987654321:AAE-abcdefghijklmnopqrstuv_012/getMe"  # expect: SP402
