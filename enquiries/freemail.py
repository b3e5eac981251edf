"""Free-mail domains: accepted on lead forms, but flagged on the lead as a quality signal."""

FREE_MAIL_DOMAINS = frozenset(
    """
    gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.co.in yahoo.fr ymail.com hotmail.com
    hotmail.co.uk hotmail.fr outlook.com live.com msn.com aol.com icloud.com me.com mac.com
    mail.com gmx.com gmx.de gmx.net web.de protonmail.com proton.me pm.me zoho.com yandex.com
    yandex.ru mail.ru qq.com 163.com 126.com sina.com rediffmail.com tutanota.com fastmail.com
    hey.com inbox.com
    """.split()
)


def is_free_mail(email: str) -> bool:
    return email.rsplit("@", 1)[-1].lower() in FREE_MAIL_DOMAINS
