"""Русские тексты. Ключи совпадают с :mod:`kie_bot.texts.en` (это проверяет тест)."""

TEXTS: dict[str, str] = {
    "welcome": (
        "Привет, {name}! Я создаю картинки, видео и музыку с помощью ИИ.\n"
        "Баланс: {balance} кредитов."
    ),
    "welcome_bonus": "🎁 Вам начислено {credits} бесплатных кредитов, чтобы попробовать.",
    "menu": "Что хотите сделать?",
    "balance": "💰 Ваш баланс: {balance} кредитов.",
    "help": (
        "Как это работает:\n"
        "1. Создать → выберите модель → опишите, что нужно → подтвердите.\n"
        "2. Цена списывается при подтверждении; если генерация не удалась, "
        "кредиты возвращаются автоматически.\n"
        "3. Пополнение — через Telegram Stars.\n\n"
        "Команды: /start /models /balance /history /help /cancel"
    ),
    "btn_generate": "🎨 Создать",
    "btn_balance": "💰 Баланс",
    "btn_topup": "⭐ Пополнить",
    "btn_history": "🕘 История",
    "btn_help": "❓ Помощь",
    "btn_back": "⬅️ Назад",
    "btn_cancel": "✖️ Отмена",
    "btn_skip": "Пропустить ➡️",
    "btn_confirm": "✅ Создать за {price} кредитов",
    "cat_image": "🖼 Картинки",
    "cat_edit": "🪄 Редактирование фото",
    "cat_video": "🎬 Видео по тексту",
    "cat_animate": "📽 Видео из фото",
    "cat_music": "🎵 Музыка и звуки",
    "cat_voice": "🗣 Голос: озвучка и расшифровка",
    "cat_lipsync": "👄 Синхронизация губ",
    "cat_upscale": "🔍 Улучшение качества",
    "cat_cleanup": "🧽 Удаление фона и водяных знаков",
    "cat_isolate": "🎙 Очистка голоса",
    "choose_model": "Выберите модель. Цены в кредитах, по вариантам:",
    "model_button_from": "{title} · от {price} кр",
    "price_line": "• {title}: {prices}",
    "ask_text": "✍️ {title}\nОтправьте текст для озвучки одним сообщением.",
    "ask_photo": "📷 Отправьте фото, которое нужно использовать.",
    "ask_photos": "📷 Отправьте одно или несколько фото (до 5).",
    "ask_video": "🎞 Отправьте видео (не больше 20 МБ).",
    "ask_audio": "🎧 Отправьте аудиофайл или голосовое сообщение (не больше 20 МБ).",
    "optional_hint": "Это необязательно: нажмите «Пропустить», чтобы продолжить без него.",
    "ask_variant": "Выберите вариант (цена в кредитах):",
    "variant_button": "{label} · {price} кр",
    "btn_done": "Готово ✅",
    "photo_added": "Фото {count} из {limit} добавлено. Отправьте ещё или нажмите «Готово».",
    "file_too_large": (
        "Файл слишком большой: бот может скачать из Telegram файлы не больше {limit} МБ. "
        "Отправьте файл поменьше. Ничего не списано."
    ),
    "file_failed": "Не удалось обработать файл, отправьте его ещё раз.",
    "summary_variant": "Вариант: {label}",
    "summary_prompt": "Запрос: {prompt}",
    "summary_option": "Параметр: {choice}",
    "summary_photo": "Фото: {count}",
    "summary_video": "Видео: {count}",
    "summary_audio": "Аудио: {count}",
    "summary_defaults": "Настройки: {settings}",
    "summary_price": "\nЦена: {price} кредитов\nВаш баланс: {balance} кредитов",
    "result_text": "📝 {title}:\n{text}",
    "choose_category": "Что будем создавать?",
    "model_button": "{title} · {price} кр",
    "ask_prompt": "✍️ {title}\nОпишите одним сообщением, что нужно создать.",
    "prompt_too_long": (
        "Описание слишком длинное (не больше {limit} символов). Попробуйте ещё раз."
    ),
    "ask_choice": "Выберите вариант:",
    "choice_vocals": "С вокалом",
    "choice_instrumental": "Инструментал",
    "yes": "да",
    "no": "нет",
    "not_enough": "Недостаточно кредитов: у вас {balance}, нужно {price}. Пополните через Stars:",
    "already_running": "Эта генерация уже запущена.",
    "progress_queued": "⏳ {title}: в очереди…",
    "progress_generating": "🎨 {title}: генерация… {seconds} с",
    "progress_sending": "📤 {title}: отправляю результат…",
    "progress_done": "✅ {title}: готово.",
    "result_caption": "✅ {title}",
    "result_link": "✅ {title}: файл слишком большой для отправки здесь. Скачать: {url}",
    "refunded": "❌ {title}: {reason}\nВозвращено {price} кредитов. Баланс: {balance}.",
    "reason_failed": "генерация не удалась ({error}).",
    "reason_timeout": "генерация заняла слишком много времени и остановлена.",
    "reason_busy": "сервис сейчас перегружен, попробуйте через минуту.",
    "reason_unavailable": "сервис временно недоступен, попробуйте позже.",
    "reason_rejected": "запрос отклонён ({error}).",
    "reason_no_result": "сервис завершил задачу без результата.",
    "reason_interrupted": "генерация прервалась до запуска.",
    "cancelled": "Отменено.",
    "error_generic": "Что-то пошло не так на нашей стороне. Попробуйте ещё раз через минуту.",
    "stale": "Эта кнопка устарела.",
    "unknown": "Не понял вас. Вот меню:",
    "topup_choose": "Выберите пакет. Оплата — Telegram Stars ⭐:",
    "package_button": "{credits} кредитов · {stars} ⭐",
    "invoice_title": "{credits} кредитов",
    "invoice_description": "{credits} кредитов для ИИ-генераций в этом боте.",
    "invoice_label": "{credits} кредитов",
    "precheckout_invalid": "Это предложение устарело. Откройте меню пополнения ещё раз.",
    "payment_ok": "⭐ Оплата получена: +{credits} кредитов. Баланс: {balance}.",
    "history_empty": "У вас пока нет генераций.",
    "history_header": "Ваши последние генерации:",
    "history_long_link": "(ссылка слишком длинная)",
    "history_more": "… более ранние записи не поместились.",
    "history_line": "{date} · {title} · {state} · {price} кр",
    "state_created": "запуск",
    "state_charged": "запуск",
    "state_submitted": "в работе",
    "state_delivering": "отправка",
    "state_refunding": "возврат",
    "state_done": "готово",
    "state_refunded": "возврат",
    "state_cancelled": "не списано",
    "admin_grant_usage": "Формат: /grant <user_id> <кредиты>",
    "admin_grant_ok": "Начислено {credits} кредитов пользователю {user}. Его баланс: {balance}.",
    "admin_refund_usage": "Формат: /refund <user_id> <telegram_payment_charge_id>",
    "admin_refund_unknown": "У этого пользователя нет такого платежа.",
    "admin_payment_unmatched": (
        "⚠️ Платёж {charge} от пользователя {user} ({amount} Stars) не совпадает ни с одним "
        "пакетом и не зачислен. Вернуть: /refund {user} {charge}."
    ),
    "admin_refund_done_before": "Этот платёж уже возвращён.",
    "admin_refund_insufficient": (
        "У пользователя осталось {balance} кредитов, нужно {credits}: возврат не сделан."
    ),
    "admin_refund_failed": "Telegram отклонил возврат ({error}); кредиты восстановлены.",
    "admin_refund_ok": "Возвращено {stars} ⭐ пользователю {user}; списано {credits} кредитов.",
    "admin_stats": (
        "Пользователи: {users}\nГенерации: {generations} (готово {done}, возвраты {refunded}, "
        "в работе {running})\nПолучено Stars: {stars} ({payments} платежей)\n"
        "Кредиты аккаунта KIE: {kie_credits}"
    ),
    "user_refund_notice": "⭐ Вам возвращено {stars} Stars; списано {credits} кредитов.",
    "cmd_start": "Старт и главное меню",
    "cmd_models": "Создать картинку, видео или песню",
    "cmd_balance": "Ваши кредиты",
    "cmd_topup": "Купить кредиты за Stars",
    "cmd_history": "Последние генерации",
    "cmd_help": "Как это работает",
    "cmd_cancel": "Отменить текущий шаг",
}
