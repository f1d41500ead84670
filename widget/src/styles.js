// The widget's stylesheet. Every rule is scoped under #tthc-widget and every class starts
// with tthc-, so the host page and the widget leave each other alone. Colours that depend on
// the configured primary colour come in as CSS custom properties set on the root element.
// Default colours meet WCAG AA (4.5:1) for text.
export const CSS = `
#tthc-widget{all:initial;position:static;display:block;width:0;height:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif;font-size:15px;line-height:1.45;color:#1f2937;}
#tthc-widget *,#tthc-widget *::before,#tthc-widget *::after{box-sizing:border-box;}
#tthc-widget div,#tthc-widget span,#tthc-widget p,#tthc-widget h2,#tthc-widget section,#tthc-widget ol,#tthc-widget ul,#tthc-widget li,#tthc-widget a,#tthc-widget strong{margin:0;padding:0;border:0;background:none;font:inherit;color:inherit;text-align:inherit;text-transform:none;letter-spacing:normal;float:none;width:auto;height:auto;min-width:0;max-width:none;box-shadow:none;text-shadow:none;}
#tthc-widget svg{display:inline-block;vertical-align:middle;max-width:none;max-height:none;fill:currentColor;}
#tthc-widget [hidden]{display:none!important;}
#tthc-widget button,#tthc-widget textarea{font:inherit;color:inherit;margin:0;letter-spacing:normal;text-transform:none;text-shadow:none;box-shadow:none;min-width:0;min-height:0;width:auto;height:auto;float:none;}
#tthc-widget button{cursor:pointer;background:none;border:0;padding:0;line-height:1.3;}
#tthc-widget a{color:var(--tthc-accent);text-decoration:underline;text-underline-offset:2px;}
#tthc-widget :focus{outline:3px solid var(--tthc-focus);outline-offset:2px;}
#tthc-widget :focus:not(:focus-visible){outline:none;}
#tthc-widget .tthc-sr{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0;}

#tthc-widget .tthc-launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;background:var(--tthc-primary);color:var(--tthc-on-primary);display:flex;align-items:center;justify-content:center;box-shadow:0 6px 18px rgba(0,0,0,.28);transition:transform .15s ease;}
#tthc-widget .tthc-launcher:hover{transform:scale(1.05);}
#tthc-widget .tthc-launcher:focus{outline:3px solid var(--tthc-focus);outline-offset:3px;}
#tthc-widget .tthc-launcher:focus:not(:focus-visible){outline:none;}
#tthc-widget .tthc-badge{position:absolute;top:2px;right:2px;width:14px;height:14px;border-radius:50%;background:#f59e0b;border:2px solid #fff;}
#tthc-widget.tthc-left .tthc-launcher{right:auto;left:20px;}

#tthc-widget .tthc-panel{position:fixed;right:20px;bottom:92px;z-index:2147483001;width:400px;max-width:calc(100vw - 32px);height:640px;max-height:calc(100vh - 112px);display:flex;flex-direction:column;background:#fff;border-radius:14px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.25);border:1px solid rgba(0,0,0,.08);}
#tthc-widget.tthc-left .tthc-panel{right:auto;left:20px;}

#tthc-widget .tthc-header{flex:none;display:flex;align-items:center;gap:10px;padding:12px 10px 12px 14px;background:var(--tthc-primary);color:var(--tthc-on-primary);}
#tthc-widget .tthc-avatar{flex:none;width:38px;height:38px;border-radius:50%;display:flex;align-items:center;justify-content:center;background:rgba(255,255,255,.18);border:1px solid currentColor;}
#tthc-widget .tthc-heading{flex:1;min-width:0;}
#tthc-widget .tthc-title{display:block;margin:0;font-size:16px;font-weight:700;line-height:1.25;color:inherit;overflow-wrap:anywhere;}
#tthc-widget .tthc-status{display:flex;align-items:center;gap:6px;margin-top:2px;font-size:13px;line-height:1.3;color:inherit;}
#tthc-widget .tthc-dot{flex:none;width:9px;height:9px;border-radius:50%;background:#9ca3af;border:1px solid currentColor;}
#tthc-widget .tthc-status[data-state="connected"] .tthc-dot{background:#22c55e;}
#tthc-widget .tthc-status[data-state="disconnected"] .tthc-dot{background:#f59e0b;animation:tthc-blink 1.2s infinite;}
#tthc-widget .tthc-hbtn{flex:none;width:40px;height:40px;border-radius:8px;display:flex;align-items:center;justify-content:center;color:inherit;}
#tthc-widget .tthc-hbtn:hover{background:rgba(127,127,127,.22);}
#tthc-widget .tthc-header :focus{outline-color:var(--tthc-on-primary);outline-offset:-3px;}

#tthc-widget .tthc-log{flex:1;min-height:0;overflow-y:auto;overflow-x:hidden;padding:14px 12px 6px;background:#f7f7f8;display:flex;flex-direction:column;gap:10px;overscroll-behavior:contain;}
#tthc-widget .tthc-log:focus{outline-offset:-3px;}
#tthc-widget .tthc-row{display:flex;max-width:100%;}
#tthc-widget .tthc-row-user{justify-content:flex-end;}
#tthc-widget .tthc-msg{max-width:88%;padding:9px 12px;border-radius:14px;overflow-wrap:anywhere;word-break:normal;white-space:normal;font-size:15px;}
#tthc-widget .tthc-bot{background:#fff;color:#1f2937;border:1px solid #e5e7eb;border-bottom-left-radius:4px;}
#tthc-widget .tthc-user{background:var(--tthc-primary);color:var(--tthc-on-primary);border-bottom-right-radius:4px;white-space:pre-wrap;}
#tthc-widget .tthc-user a{color:inherit;}
#tthc-widget .tthc-row-user{flex-wrap:wrap;}
#tthc-widget .tthc-pending{display:block;flex-basis:100%;margin-top:3px;font-size:12px;color:#4b5563;text-align:right;}
#tthc-widget .tthc-tag{display:inline-block;margin:0 0 6px;padding:1px 8px;border-radius:999px;background:var(--tthc-tint);color:var(--tthc-accent);font-size:12px;font-weight:600;}
#tthc-widget .tthc-msg p{margin:0 0 6px;}
#tthc-widget .tthc-msg p:last-child{margin-bottom:0;}
#tthc-widget .tthc-msg ol,#tthc-widget .tthc-msg ul{margin:4px 0 8px;padding:0 0 0 22px;}
#tthc-widget .tthc-msg ul{list-style:disc;}
#tthc-widget .tthc-msg ol{list-style:decimal;}
#tthc-widget .tthc-msg li{margin:2px 0;padding:0;display:list-item;}
#tthc-widget .tthc-msg ul > li{list-style:disc outside;}
#tthc-widget .tthc-msg ol > li{list-style:decimal outside;}
#tthc-widget .tthc-msg > :last-child{margin-bottom:0;}
#tthc-widget .tthc-facts{list-style:none!important;padding:0!important;margin:6px 0 8px;border:1px solid #e5e7eb;border-radius:10px;overflow:hidden;}
#tthc-widget .tthc-facts li{list-style:none!important;display:flex!important;flex-wrap:wrap;gap:2px 10px;justify-content:space-between;margin:0;padding:7px 10px;border-top:1px solid #e5e7eb;}
#tthc-widget .tthc-facts li:first-child{border-top:0;}
#tthc-widget .tthc-facts strong{font-weight:700;color:#111827;}
#tthc-widget .tthc-facts .tthc-value{text-align:left;}
#tthc-widget .tthc-msg strong{font-weight:700;}

#tthc-widget .tthc-options{display:flex;flex-wrap:wrap;gap:6px;margin-top:10px;}
#tthc-widget .tthc-option{padding:7px 12px;border:1.5px solid var(--tthc-accent);border-radius:999px;background:#fff;color:var(--tthc-accent);font-size:14px;font-weight:600;text-align:left;max-width:100%;overflow-wrap:anywhere;}
#tthc-widget .tthc-option:hover:not(:disabled){background:var(--tthc-tint);}
#tthc-widget .tthc-option:disabled{cursor:default;border-color:#d1d5db;color:#4b5563;background:#f3f4f6;font-weight:400;}
#tthc-widget .tthc-option.tthc-chosen:disabled{border-color:var(--tthc-accent);background:var(--tthc-accent);color:var(--tthc-on-accent);font-weight:600;}

#tthc-widget .tthc-source{display:flex;gap:6px;align-items:flex-start;margin-top:10px;padding-top:8px;border-top:1px dashed #d1d5db;font-size:13px;color:#4b5563;}
#tthc-widget .tthc-source svg{flex:none;margin-top:1px;color:var(--tthc-accent);}
#tthc-widget .tthc-source a{font-weight:600;}
#tthc-widget .tthc-hotline{display:flex;gap:8px;align-items:flex-start;margin-top:10px;padding:9px 10px;border-radius:10px;background:#fff7e6;border:1px solid #f0b44c;color:#1f2937;font-size:14px;}
#tthc-widget .tthc-hotline svg{flex:none;color:#92400e;margin-top:2px;}
#tthc-widget .tthc-hotline a{color:#7c2d12;font-weight:700;font-size:16px;white-space:nowrap;}
#tthc-widget .tthc-notice{align-self:center;max-width:92%;padding:6px 10px;border-radius:8px;background:#fef3c7;color:#78350f;font-size:13px;text-align:center;}
#tthc-widget .tthc-notice-error{background:#fee2e2;color:#7f1d1d;}

#tthc-widget .tthc-welcome .tthc-suggestions{display:flex;flex-direction:column;align-items:flex-start;gap:6px;margin-top:10px;}
#tthc-widget .tthc-suggestion{padding:6px 10px;border-radius:10px;background:var(--tthc-tint);color:var(--tthc-accent);font-size:14px;text-align:left;}
#tthc-widget .tthc-suggestion:hover{text-decoration:underline;}

#tthc-widget .tthc-typing{flex:none;display:flex;align-items:center;gap:8px;padding:4px 16px 6px;background:#f7f7f8;color:#4b5563;font-size:13px;}
#tthc-widget .tthc-dots{display:inline-flex;gap:3px;}
#tthc-widget .tthc-dots span{width:6px;height:6px;border-radius:50%;background:#6b7280;animation:tthc-bounce 1.2s infinite ease-in-out;}
#tthc-widget .tthc-dots span:nth-child(2){animation-delay:.15s;}
#tthc-widget .tthc-dots span:nth-child(3){animation-delay:.3s;}

#tthc-widget .tthc-composer{flex:none;display:flex;align-items:flex-end;gap:8px;padding:10px 10px 8px;border-top:1px solid #e5e7eb;background:#fff;}
#tthc-widget .tthc-input{flex:1;min-width:0;resize:none;display:block;max-height:120px;min-height:44px;padding:10px 12px;border:1.5px solid #6b7280;border-radius:12px;background:#fff;color:#1f2937;font-size:16px;line-height:1.35;overflow-y:auto;}
#tthc-widget .tthc-input::placeholder{color:#6b7280;opacity:1;}
#tthc-widget .tthc-input:focus,#tthc-widget .tthc-input:focus:not(:focus-visible){outline:3px solid var(--tthc-focus);outline-offset:0;border-color:var(--tthc-accent);}
#tthc-widget .tthc-send{flex:none;width:44px;height:44px;border-radius:12px;background:var(--tthc-primary);color:var(--tthc-on-primary);display:flex;align-items:center;justify-content:center;}
#tthc-widget .tthc-counter{flex:none;padding:0 14px;font-size:12px;color:#4b5563;text-align:right;background:#fff;}
#tthc-widget .tthc-counter.tthc-over{color:#b91c1c;font-weight:600;}
#tthc-widget .tthc-footer{flex:none;padding:2px 12px 8px;font-size:12px;color:#4b5563;text-align:center;background:#fff;}
#tthc-widget .tthc-footer a{color:#4b5563;font-weight:600;}

@keyframes tthc-bounce{0%,80%,100%{transform:translateY(0);opacity:.5;}40%{transform:translateY(-4px);opacity:1;}}
@keyframes tthc-blink{50%{opacity:.35;}}
@media (max-width:520px){
#tthc-widget .tthc-panel,#tthc-widget.tthc-left .tthc-panel{left:0;right:0;top:0;bottom:0;width:100%;max-width:100%;height:100%;max-height:none;border-radius:0;border:0;}
#tthc-widget .tthc-launcher{right:14px;bottom:14px;}
#tthc-widget.tthc-is-open .tthc-launcher{display:none;}
#tthc-widget .tthc-msg{max-width:92%;}
}
@media (prefers-reduced-motion:reduce){
#tthc-widget *{animation:none!important;transition:none!important;}
}
@media print{#tthc-widget{display:none!important;}}
`;
