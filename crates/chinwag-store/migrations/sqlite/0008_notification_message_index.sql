-- A message's edit rewrites, and its deletion blanks, the excerpts of the
-- notifications it caused (`Store::edit_message`, `Store::delete_message`);
-- this index finds them without scanning the table.
CREATE INDEX notifications_message ON notifications (message_id);
