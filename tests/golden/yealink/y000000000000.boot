#!version:1.0.0.1
include:config "001565123456.cfg"
overwrite_mode = 1
