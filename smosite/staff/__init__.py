"""Staff access to the admin: the site's AdminSite (admin actions refused with 403 when the
user may not run them; two-factor sign-in) and the enrolment of authenticator apps."""
