// The demo page loads the widget exactly as a website would: one script
// tag with the bot id. ?bot=ID picks the bot.
(function () {
  const bot = new URLSearchParams(location.search).get('bot') || '';
  const input = document.getElementById('demo-bot');
  input.value = bot;
  const src = `${location.origin}/widget.js`;
  document.getElementById('demo-snippet').textContent = `<script src="${src}" data-bot="${bot || 'BOT_ID'}"></script>`;
  if (!bot) { input.focus(); return; }
  const s = document.createElement('script');
  s.src = src;
  s.dataset.bot = bot;
  s.dataset.title = 'Demo bot';
  document.body.append(s);
}());
