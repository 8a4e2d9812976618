"""The reference KIE bot: AI image, video and music generations paid with credits.

Built only on the public API of :mod:`safe_polling`.
"""
