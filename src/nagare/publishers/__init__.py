"""Publishers: the servers that run applications (standalone; fastcgi later)."""
