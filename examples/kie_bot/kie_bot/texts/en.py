"""English texts. Every key here must exist in :mod:`kie_bot.texts.ru` too (a test checks)."""

TEXTS: dict[str, str] = {
    "welcome": (
        "Hi, {name}! I create images, videos and music with AI.\nBalance: {balance} credits."
    ),
    "welcome_bonus": "🎁 You received {credits} free credits to try it out.",
    "menu": "What would you like to do?",
    "balance": "💰 Your balance: {balance} credits.",
    "help": (
        "How it works:\n"
        "1. Generate → pick a model → write what you want → confirm.\n"
        "2. The price is charged when you confirm; if the generation fails, "
        "the credits come back automatically.\n"
        "3. Top up with Telegram Stars.\n\n"
        "Commands: /start /models /balance /history /help /cancel"
    ),
    "btn_generate": "🎨 Generate",
    "btn_balance": "💰 Balance",
    "btn_topup": "⭐ Top up",
    "btn_history": "🕘 History",
    "btn_help": "❓ Help",
    "btn_back": "⬅️ Back",
    "btn_cancel": "✖️ Cancel",
    "btn_skip": "Skip ➡️",
    "btn_confirm": "✅ Generate for {price} credits",
    "cat_image": "🖼 Images",
    "cat_video": "🎬 Video",
    "cat_music": "🎵 Music",
    "choose_category": "What do you want to create?",
    "choose_model": "Choose a model (price per generation):",
    "model_button": "{title} · {price} cr",
    "ask_prompt": "✍️ {title}\nDescribe what you want, in one message.",
    "prompt_too_long": "The description is too long (at most {limit} characters). Try again.",
    "ask_choice": "Choose an option:",
    "ask_photo_optional": "📷 Send a photo to use as input, or press Skip.",
    "ask_photo_required": "📷 Send the photo to use as input.",
    "photo_failed": "I could not process that photo, please send it again.",
    "choice_vocals": "With vocals",
    "choice_instrumental": "Instrumental",
    "summary": (
        "{title}\nPrompt: {prompt}\nOption: {choice}\nPhoto: {photo}\n\n"
        "Price: {price} credits\nYour balance: {balance} credits"
    ),
    "yes": "yes",
    "no": "no",
    "not_enough": "Not enough credits: you have {balance}, this costs {price}. Top up with Stars:",
    "already_running": "This generation has already been started.",
    "progress_queued": "⏳ {title}: in the queue…",
    "progress_generating": "🎨 {title}: generating… {seconds} s",
    "progress_sending": "📤 {title}: sending the result…",
    "progress_done": "✅ {title}: done.",
    "result_caption": "✅ {title}",
    "result_link": "✅ {title}: the file is too large to send here. Download it: {url}",
    "refunded": "❌ {title}: {reason}\n{price} credits were returned. Balance: {balance}.",
    "reason_failed": "the generation failed ({error}).",
    "reason_timeout": "it took too long and was stopped.",
    "reason_busy": "the service is overloaded right now, try again in a minute.",
    "reason_unavailable": "the service is temporarily unavailable, try again later.",
    "reason_rejected": "the request was rejected ({error}).",
    "reason_no_result": "the service finished without a result.",
    "reason_interrupted": "it was interrupted before it started.",
    "cancelled": "Cancelled.",
    "error_generic": "Something went wrong on our side. Please try again in a minute.",
    "stale": "This button is out of date.",
    "unknown": "I did not understand that. Here is the menu:",
    "topup_choose": "Choose a package. You pay with Telegram Stars ⭐:",
    "package_button": "{credits} credits · {stars} ⭐",
    "invoice_title": "{credits} credits",
    "invoice_description": "{credits} credits for AI generations in this bot.",
    "invoice_label": "{credits} credits",
    "precheckout_invalid": "This offer is no longer valid. Open the top-up menu again.",
    "payment_ok": "⭐ Payment received: +{credits} credits. Balance: {balance}.",
    "history_empty": "You have no generations yet.",
    "history_header": "Your last generations:",
    "history_long_link": "(link too long to show)",
    "history_more": "… older entries do not fit here.",
    "history_line": "{date} · {title} · {state} · {price} cr",
    "state_created": "starting",
    "state_charged": "starting",
    "state_submitted": "running",
    "state_delivering": "sending",
    "state_refunding": "refunding",
    "state_done": "done",
    "state_refunded": "refunded",
    "state_cancelled": "not charged",
    "admin_grant_usage": "Usage: /grant <user_id> <credits>",
    "admin_grant_ok": "Granted {credits} credits to {user}. Their balance: {balance}.",
    "admin_refund_usage": "Usage: /refund <user_id> <telegram_payment_charge_id>",
    "admin_refund_unknown": "No such payment for this user.",
    "admin_payment_unmatched": (
        "⚠️ Payment {charge} from user {user} ({amount} Stars) matches no package on sale "
        "and was not credited. Refund it with /refund {user} {charge}."
    ),
    "admin_refund_done_before": "This payment was already refunded.",
    "admin_refund_insufficient": (
        "The user has {balance} credits left, {credits} needed: not refunded."
    ),
    "admin_refund_failed": "Telegram refused the refund ({error}); the credits were restored.",
    "admin_refund_ok": "Refunded {stars} ⭐ to {user}; {credits} credits debited.",
    "admin_stats": (
        "Users: {users}\nGenerations: {generations} (done {done}, refunded {refunded}, "
        "running {running})\nStars received: {stars} ({payments} payments)\n"
        "KIE account credits: {kie_credits}"
    ),
    "user_refund_notice": "⭐ {stars} Stars were refunded to you; {credits} credits were debited.",
    "cmd_start": "Start and main menu",
    "cmd_models": "Create an image, video or song",
    "cmd_balance": "Your credits",
    "cmd_topup": "Buy credits with Stars",
    "cmd_history": "Your last generations",
    "cmd_help": "How it works",
    "cmd_cancel": "Cancel the current step",
}
