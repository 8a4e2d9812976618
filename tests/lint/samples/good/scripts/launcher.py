"""Imports main_render by name: the one next to it, not the archived copy."""

import main_render

if __name__ == "__main__":
    main_render.main()
