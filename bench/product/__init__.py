"""The site as production runs it, plus one empty view (`/bench/empty`) that shows what the
product's URLconf and middleware cost before any page does any work."""
