// `node --import ipv4-force/register app.mjs`: the same as the CommonJS register.
import './register.js'
