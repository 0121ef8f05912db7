-- A customer's tickets, newest first, by index (the console's customer card): the search
-- index matched a phone number by its trigrams, which a million tickets share ("138", "000").
CREATE INDEX tickets_customer ON tickets (customer_key, pos) WHERE customer_key IS NOT NULL;
