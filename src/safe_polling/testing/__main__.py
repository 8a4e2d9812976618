"""``python -m safe_polling.testing``: run the fake Bot API server as a process."""

from safe_polling.testing._process import main

if __name__ == "__main__":
    main()
