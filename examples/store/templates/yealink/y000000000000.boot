#!version:1.0.0.1
{% if mac %}
include:config "{{ mac }}.cfg"
{% endif %}
overwrite_mode = 1
